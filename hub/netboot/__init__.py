"""Network boot: the workshop's boot service and the credentials it gives the machines it boots."""
