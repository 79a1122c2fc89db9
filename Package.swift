// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "molecule-reconciler",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "molecule-reconciler", targets: ["MoleculeReconcilerCLI"]),
        .executable(name: "molecule-bench", targets: ["MoleculeBench"]),
        .executable(name: "molecule-fleet-bench", targets: ["MoleculeFleetBench"]),
        .executable(name: "molecule-workspace-runtime", targets: ["MoleculeWorkspaceRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        // C libraries: each is called from exactly one Swift module.
        .systemLibrary(
            name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),
        .systemLibrary(
            name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),

        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]),
        .target(name: "CurlHTTP", dependencies: ["CCurl"]),
        .target(name: "ReconcileRuntime", dependencies: []),
        .target(name: "Providers", dependencies: ["ReconcileRuntime", .product(name: "Metrics", package: "swift-metrics")]),
        .target(name: "LocalProviders", dependencies: ["Providers", "CurlHTTP", .product(name: "Yams", package: "Yams")]),
        // EC2 instances and Secrets Manager bundles, SigV4-signed over CurlHTTP.
        .target(
            name: "AWSProviders",
            dependencies: ["Providers", "ReconcileRuntime", "CurlHTTP", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "CloudflareProvider",
            dependencies: ["Providers", "CurlHTTP", .product(name: "Logging", package: "swift-log")]),
        .target(name: "DockerProvider", dependencies: ["Providers", "CurlHTTP"]),
        .target(
            name: "IngressModel",
            dependencies: ["Providers", "ReconcileRuntime", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "WorkspaceStore",
            dependencies: ["Postgres", "ReconcileRuntime", "ReconcileStore", "WorkspaceModel", "IngressModel"]),
        .target(
            name: "WorkspaceControllers",
            dependencies: [
                "Postgres", "ReconcileRuntime", "ReconcileStore", "Providers", "WorkspaceModel", "WorkspaceStore", "IngressModel",
                .product(name: "Metrics", package: "swift-metrics"),
            ]),
        .target(name: "WorkspaceModel", dependencies: ["ReconcileRuntime", .product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "SchemaManifests", path: "manifests",
            exclude: ["README.md"],
            sources: ["SchemaManifests.swift"],
            resources: [.copy("schema"), .copy("example")]),
        .target(
            name: "ReconcileStore",
            dependencies: [
                "Postgres", "ReconcileRuntime", "SchemaManifests",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "ControllerHost",
            dependencies: [
                "Postgres", "ReconcileRuntime", "ReconcileStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "LogEscaping",
            dependencies: [
                .product(name: "Logging", package: "swift-log")
            ]),
        .target(
            name: "EmbeddedPostgres",
            dependencies: [
                .product(name: "Logging", package: "swift-log")
            ]),
        .target(
            name: "HealthServer",
            dependencies: [
                "ControllerHost", "Postgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "MoleculeReconcilerCLI",
            dependencies: [
                "Postgres", "ReconcileRuntime", "ReconcileStore", "ControllerHost", "Providers",
                "EmbeddedPostgres", "HealthServer", "LocalProviders", "LogEscaping", "WorkspaceControllers", "WorkspaceStore",
                "WorkspaceModel", "DockerProvider", "AWSProviders", "CloudflareProvider",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "MoleculeWorkspaceRuntime",
            dependencies: [
                "LocalProviders", "LogEscaping",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(name: "BenchSupport"),
        .executableTarget(
            name: "MoleculeBench",
            dependencies: [
                "BenchSupport", "Postgres", "ReconcileRuntime", "ReconcileStore", "ControllerHost", "EmbeddedPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "MoleculeFleetBench",
            dependencies: [
                "BenchSupport", "ControllerHost", "WorkspaceControllers", "WorkspaceStore", "WorkspaceModel", "ProviderFakes",
                "EmbeddedPostgres", "ReconcileRuntime", "ReconcileStore", "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        .target(
            name: "PostgresTestSupport",
            dependencies: [
                "Postgres", "ReconcileRuntime", "ReconcileStore", "EmbeddedPostgres",
            ], path: "Tests/PostgresTestSupport"),
        .target(name: "ProviderFakes", dependencies: ["Providers"], path: "Tests/ProviderFakes"),
        // A local server implementing Cloudflare's tunnel-configuration endpoints, for contract tests.
        .target(
            name: "CloudflareContract",
            dependencies: ["Providers", .product(name: "Hummingbird", package: "hummingbird")],
            path: "Tests/CloudflareContract"),
        // The hostile writes every spec column must refuse, and the rows they run against.
        .target(name: "AdversarialCorpus", dependencies: ["Postgres", "PostgresTestSupport"], path: "Tests/AdversarialCorpus"),
        .testTarget(
            name: "WorkspaceControllersTests",
            dependencies: [
                "WorkspaceControllers", "WorkspaceModel", "Providers", "ProviderFakes", "ControllerHost", "LocalProviders",
                "ReconcileRuntime", "ReconcileStore", "Postgres", "PostgresTestSupport", "AdversarialCorpus",
            ]),
        .testTarget(
            name: "DockerProviderTests",
            dependencies: [
                "DockerProvider", "Providers", "CurlHTTP", "LocalProviders", "WorkspaceControllers", "WorkspaceStore",
                "WorkspaceModel", "ControllerHost", "ReconcileStore", "Postgres", "PostgresTestSupport",
            ]),
        .testTarget(name: "LocalProvidersTests", dependencies: ["LocalProviders", "Providers", "CurlHTTP"]),
        .testTarget(
            name: "CloudflareProviderTests",
            dependencies: [
                "CloudflareProvider", "CloudflareContract", "Providers", "IngressModel", "WorkspaceControllers", "WorkspaceStore",
                "ControllerHost", "ReconcileRuntime", "ReconcileStore", "Postgres", "PostgresTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Against moto (signatures checked) and its controllers end to end on a real PostgreSQL.
        .testTarget(
            name: "AWSProvidersTests",
            dependencies: [
                "AWSProviders", "Providers", "CurlHTTP", "WorkspaceControllers", "WorkspaceModel", "WorkspaceStore",
                "ControllerHost", "ReconcileRuntime", "ReconcileStore", "Postgres", "PostgresTestSupport",
            ]),
        .testTarget(name: "WorkspaceModelTests", dependencies: ["WorkspaceModel"]),
        .testTarget(name: "IngressModelTests", dependencies: ["IngressModel", "Providers"]),
        .testTarget(
            name: "LogEscapingTests",
            dependencies: [
                "LogEscaping", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "ProviderFakesTests", dependencies: ["Providers", "ProviderFakes"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "PostgresTestSupport"]),
        .testTarget(name: "ReconcileRuntimeTests", dependencies: ["ReconcileRuntime"]),
        .testTarget(
            name: "ReconcileStoreTests",
            dependencies: [
                "ReconcileStore", "ReconcileRuntime", "Postgres", "PostgresTestSupport", "SchemaManifests", "AdversarialCorpus",
                // The schema's write-time rules are tested against the Swift rules they mirror.
                "WorkspaceModel", "IngressModel", "Providers",
            ]),
        .testTarget(
            name: "ControllerHostTests",
            dependencies: [
                "ControllerHost", "ReconcileStore", "ReconcileRuntime", "Postgres", "PostgresTestSupport",
                "HealthServer", "CurlHTTP", "EmbeddedPostgres",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // The database roles of schema 0010: the privilege matrix, the secret scan, org scopes.
        .testTarget(
            name: "PrivilegeTests",
            dependencies: ["Postgres", "PostgresTestSupport", "ReconcileStore", "SchemaManifests"]),
        // WorkspaceModel: the leak test derives each instance token from its seed, to look for it.
        // AWSProviders, CloudflareContract: the cloud-fleet suite signs its own reads of moto and
        // runs the binary against the Cloudflare contract server.
        .testTarget(
            name: "CLITests",
            dependencies: [
                "Postgres", "PostgresTestSupport", "CurlHTTP", "ReconcileStore", "WorkspaceModel", "AWSProviders",
                "CloudflareContract", "Providers", "EmbeddedPostgres",
            ]),
    ]
)
