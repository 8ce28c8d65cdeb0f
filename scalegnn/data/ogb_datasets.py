"""Open Graph Benchmark datasets (placeholder; filled in next)."""
OGB_NAMES = (
    "ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M", "ogbn-mag",
    "ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2",
    "ogbg-molhiv", "ogbg-molpcba", "ogbg-ppa", "ogbg-code2",
)


def ogb_dir_name(name: str) -> str:
    return "_".join(name.split("-"))


def load_ogb(name, root, download=True, **kwargs):
    raise NotImplementedError("OGB loading lands in the next commit")
