"""What networks learn first: training-dynamics experiments built on :func:`jaxbias.train`.

One module per experiment, each returning a labelled ``xarray.Dataset`` with its full config:
distributional simplicity (Refinetti, Ingrosso & Goldt 2023), spectral bias (Rahaman et al. 2019),
function complexity during training (Teney et al. 2024), NTK motion against width, and initial
guessing bias during training (Francazi et al. 2024).
"""
