"""scalegnn: scalable training of graph neural networks on PyTorch Geometric."""
import warnings as _warnings

# torch.sparse CSR is the project's deliberate SpMM path; its "beta" notice is noise to users.
_warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

__version__ = "0.1.0"
