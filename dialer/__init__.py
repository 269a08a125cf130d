"""The dialer service: settings, database, engine, metrics, MQTT, reports, CLI."""

__version__ = "0.1.0"
