"""The Binance-compatible API's pure pieces: parameters and their rules, errors, request weights, rendering."""
