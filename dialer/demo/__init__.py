"""`dialer demo`: the whole product on one machine, with its sample campaign and contacts."""
