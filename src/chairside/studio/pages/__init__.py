"""One module per page of the studio; each exports `routes`."""
