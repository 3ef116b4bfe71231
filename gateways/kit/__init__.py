"""What every protocol gateway shares, protocol-neutral: refusals, principal, bodies, writes, ingest, views."""
