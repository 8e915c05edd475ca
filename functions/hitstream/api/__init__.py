"""HTTP: the resolver, the routes of both APIs, owner auth, the OpenAPI document and static assets."""
