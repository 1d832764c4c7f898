"""Theano's ``tensor.signal`` namespace: a public face (pooling arrives with the nnet ops)."""
