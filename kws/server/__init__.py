"""Network front ends for the Spotter (``kws serve``: the Wyoming protocol)."""
