"""Vendor simulators: faithful fakes of each provider's API, the default runtime when a
provider has no credentials, and the peers of the end-to-end tests."""
