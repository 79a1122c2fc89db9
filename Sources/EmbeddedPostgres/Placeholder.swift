enum PlaceholderEmbeddedPostgres {}
