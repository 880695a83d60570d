"""Exchange adapters: how Troupe talks to an exchange other than its own simulator."""
