"""What the outside world sees: Prometheus metrics, MQTT events, reports, attempt export, status words."""
