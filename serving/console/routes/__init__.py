"""The console's routers, one per page family (the JSON API's resources, for people)."""
