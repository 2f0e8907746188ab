"""Figures of the training-dynamics experiments (:mod:`jaxbias.experiments.dynamics`), one module each."""
