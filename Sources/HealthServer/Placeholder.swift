enum PlaceholderHealthServer {}
