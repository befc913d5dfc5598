"""Golden outputs: every computable metric on sample_data and the small synthetic set."""
