"""Theano's ``tensor.raw_random``: a public face (random ops returning (new state, sample))."""
from ..ops.random import RandomStateType, RandomVariable  # noqa: F401
from ..ops.random_functions import (binomial, choice, multinomial, normal, permutation, poisson,  # noqa: F401
                                    random_integers, uniform)
