"""Settings of the examples gallery that sphinx-gallery takes by name
(conf.py): every executed example runs with ``--quick``."""


def quick_argv(gallery_conf, script_vars):
    """The examples' command line while the pages build."""
    return ["--quick"]
