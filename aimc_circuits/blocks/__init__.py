"""One module per circuit block: parameters, testbenches and characterization."""
