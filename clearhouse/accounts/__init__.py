"""People and services that use Clearhouse: accounts, roles, passwords, API keys."""
