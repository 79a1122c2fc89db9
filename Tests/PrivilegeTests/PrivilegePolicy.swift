/// The declared privilege policy of schemas 0010 and 0012: every relation of the schema with every column,
/// and every function, with what each role may do. The matrix test compares it with what the
/// database does, so an object this policy does not mention (a table added without grants, a
/// new column, a new function) fails it.
///
/// Per role, a list of clauses separated by `;`: `s`, `i`, `u` and their column lists (`*`:
/// every column) are allowed; `d` is delete; `usage` (sequences) is nextval. Anything not listed
/// is refused: a read by PostgreSQL's privileges, a write (insert, update, delete, truncate) by
/// the guards of schema 0012, whose message names the table or column and the roles listed here
/// as its writers (none: the schema's owner). TRUNCATE is nobody's.
enum PrivilegePolicy {
    struct Relation {
        let columns: [String]
        let roles: [DatabaseRole: String]
    }

    static let controllerOperator = "s *"
    static let secretColumnsWithoutValue = "workspace_id key runtime_consumed written_by written_at"
    static let orgSecretColumnsWithoutValue = "org key runtime_consumed written_by written_at"
    static let bundleColumnsWithoutSeed =
        "key desired_generation observed_generation staged_hash staged_version staged_at last_error last_error_at attempts next_attempt_at staged_generation staged_runtime_hash"
    static let specOperator = "s *; i *; u *; d"

    static let relations: [String: Relation] = [
        "events": .init(
            columns: words("id controller key type reason message count first_seen last_seen"),
            roles: [.reconciler: "s *; i *; u *", .operator: controllerOperator, .viewer: "s *"]),
        "events_id_seq": .init(columns: words("last_value log_cnt is_called"), roles: [.reconciler: "usage"]),
        "instances": .init(
            columns: words(
                "key desired_generation observed_generation instance_id instance_generation instance_state address launched_at last_error last_error_at attempts next_attempt_at target_generation booted_runtime_hash remediations last_remediation_at unresponsive_since"
            ),
            roles: [.reconciler: "s *; u *", .operator: controllerOperator, .viewer: "s *"]),
        "leases": .init(
            columns: words("controller key holder token expires_at"),
            roles: [.reconciler: "s *; i *; u *", .operator: controllerOperator, .viewer: "s *"]),
        "molecule_roles": .init(
            columns: words("role name"),
            roles: [.reconciler: "s *", .operator: "s *", .platform: "s *", .viewer: "s *"]),
        "molecule_secret_salt": .init(columns: ["salt"], roles: [:]),
        "org_scopes": .init(
            columns: words("role org"),
            roles: [.reconciler: "s *", .operator: "s *", .platform: "s *", .viewer: "s *"]),
        "org_secrets": .init(
            columns: words("org key value runtime_consumed written_by written_at"),
            roles: [
                .reconciler: "s *",
                .operator: "s \(orgSecretColumnsWithoutValue); i org key value runtime_consumed written_by written_at; "
                    + "u key value runtime_consumed written_by written_at; d",
                .viewer: "s \(orgSecretColumnsWithoutValue)",
            ]),
        "platform_paths": .init(
            columns: words("pattern service note created_at"),
            roles: [.reconciler: "s *", .operator: specOperator, .viewer: "s *"]),
        "platform_paths_status": .init(
            columns: words("pattern service skipped_count skipped_for reason"),
            roles: [.reconciler: "s *", .operator: "s *", .viewer: "s *"]),
        "plugin_installs": .init(
            columns: words(
                "key desired_generation observed_generation installed last_error last_error_at attempts next_attempt_at"),
            roles: [.reconciler: "s *; u *", .operator: controllerOperator, .viewer: "s *"]),
        "privileged_plugins": .init(
            columns: words("name reason"), roles: [.reconciler: "s *", .operator: specOperator, .viewer: "s *"]),
        "retired_ingress": .init(
            columns: words("tunnel_id hostname retired_at attempts next_attempt_at last_error"),
            roles: [.reconciler: "s *; u *; d", .operator: controllerOperator, .viewer: "s *"]),
        "schema_migrations": .init(
            columns: words("name checksum applied_at"), roles: [.reconciler: "s *", .operator: "s *", .viewer: "s *"]),
        "secret_bundles": .init(
            columns: words(bundleColumnsWithoutSeed + " token_seed"),
            roles: [
                .reconciler: "s *; u *", .operator: "s \(bundleColumnsWithoutSeed)",
                .viewer: "s \(bundleColumnsWithoutSeed)",
            ]),
        "secret_versions": .init(
            columns: words("scope org workspace_id workspace key runtime_consumed written_by written_at value_hash"),
            roles: [.operator: "s *", .viewer: "s *"]),
        "templates": .init(
            columns: words("name files updated_at"), roles: [.reconciler: "s *", .operator: specOperator, .viewer: "s *"]),
        "tenants": .init(
            columns: words("id name hostname tunnel_id services created_at org"),
            roles: [.reconciler: "s *", .operator: specOperator, .viewer: "s *"]),
        "tunnel_ingress": .init(
            columns: words(
                "key desired_generation observed_generation applied_hash applied_at last_error last_error_at attempts next_attempt_at applied_rules skipped_paths"
            ),
            roles: [.reconciler: "s *; u *", .operator: controllerOperator, .viewer: "s *"]),
        "workspace_declared_plugins": .init(
            columns: words("workspace_id plugin ref declared_at requires_restart"),
            roles: [.reconciler: "s *", .operator: specOperator, .viewer: "s *"]),
        "workspace_runtime_status": .init(
            columns: words("workspace_id instance_id ready busy_since management_mcp_present plugins bundle_hash reported_at"),
            roles: [.reconciler: "s *", .operator: "s *", .platform: "s *; i *; u *; d", .viewer: "s *"]),
        "workspace_secrets": .init(
            columns: words("workspace_id key value runtime_consumed written_by written_at"),
            roles: [
                .reconciler: "s *",
                .operator: "s \(secretColumnsWithoutValue); i workspace_id key value runtime_consumed written_by written_at; "
                    + "u key value runtime_consumed written_by written_at; d",
                .platform: "s \(secretColumnsWithoutValue); i workspace_id key value runtime_consumed written_by written_at; "
                    + "u value runtime_consumed written_by written_at; d",
                .viewer: "s \(secretColumnsWithoutValue)",
            ]),
        "workspaces": .init(
            columns: words(
                "id org name kind template image desired_state restart_requests restart_policy created_at updated_at phase last_error last_error_at conditions restart_pending"
            ),
            roles: [
                .reconciler: "s *; u phase last_error last_error_at conditions restart_pending",
                .operator: "s *; i id org name kind template image desired_state restart_requests restart_policy; "
                    + "u org name kind template image desired_state restart_requests restart_policy; d",
                .platform: "s *; u restart_requests",
                .viewer: "s *",
            ]),
    ]

    static let validationHelpers = [
        "molecule_quote(text)", "molecule_control_class()", "molecule_whitespace_class()",
        "molecule_text_problem(text,integer,text)", "molecule_pattern_problem(text,integer,text,text,boolean)",
        "molecule_refuse(text,text,text,text)", "molecule_null_problem(boolean)", "molecule_template_path_problem(text)",
        "molecule_path_pattern_is_valid(text)",
    ]

    /// Function (as `regprocedure` prints it) -> the roles that may execute it. Trigger functions
    /// need no EXECUTE to fire; DDL helpers are the owner's.
    static let functions: [String: Set<DatabaseRole>] = {
        var table: [String: Set<DatabaseRole>] = [
            "molecule_role(text)": Set(DatabaseRole.allCases),
            "molecule_scope_orgs()": Set(DatabaseRole.allCases),
            "molecule_bump(text,uuid[])": [.reconciler],
            "molecule_notify(text,uuid[])": [.reconciler],
            "molecule_set_condition(jsonb,jsonb,timestamp with time zone)": [.reconciler],
            "molecule_workspace_error(text,text,text)": [.reconciler],
            "molecule_put_workspace_secret(uuid,text,text,boolean,text)": [.operator, .platform],
            "molecule_put_org_secret(text,text,text,boolean,text)": [.operator],
            "molecule_write_refusal(text,text,text[],text,oid)": Set(DatabaseRole.allCases),
        ]
        for helper in validationHelpers { table[helper] = [.reconciler, .operator, .platform] }
        for ownerOnly in [
            "molecule_controller_keys_changed()", "molecule_register_controller(text)", "workspaces_validate()",
            "secrets_validate()", "workspace_declared_plugins_validate()", "privileged_plugins_validate()",
            "tenants_validate()", "platform_paths_validate()", "workspaces_changed()", "bundle_inputs_changed()",
            "plugin_inputs_changed()", "ingress_inputs_changed()", "molecule_attach_input_triggers(text,text)",
            "instances_target_moved()", "lifecycle_chain()", "runtime_status_changed()", "tenants_retire_ingress()",
            "templates_validate()", "workspace_runtime_status_validate()", "secret_bundles_validate()",
            "molecule_grant(text,text,text)", "org_scopes_validate()", "tenants_org_validate()", "molecule_guard_writer()",
            "molecule_scope_policies(text,text)", "molecule_status_changed()", "workspaces_insert_guard()",
        ] {
            table[ownerOnly] = []
        }
        return table
    }()

    static func words(_ text: String) -> [String] { text.split(separator: " ").map(String.init) }
}
