"""``cvkit view``: a local browser app for a dataset, its statistics and its problems (docs/view.md).

Library entry points::

    from cvkit.view.index import ViewIndex
    from cvkit.view.server import serve_in_thread
    index = ViewIndex.open("train.jsonl")          # any format cvkit reads, or a manifest
    server, thread = serve_in_thread(index)         # http://127.0.0.1:PORT/ until server.shutdown()

    from cvkit.view.export import export_site
    export_site(index, "site/", {"has": ["cat"]}, limit=200)
"""
