"""The Binance-compatible API (`/api/v3`, and the loading endpoints clients call): Binance's routes,
parameters, errors and weights at the edge, handing over to the same Gateway as Troupe's own API."""
