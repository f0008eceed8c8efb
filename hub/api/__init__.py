"""The hub's HTTP API, one router per area (stations, reports, machines, live, images)."""
