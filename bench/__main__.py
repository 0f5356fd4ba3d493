"""``python -m bench``: every benchmark, tables printed and written to docs/benchmarks.md."""

from bench import embedding, hostile, load, scale, search

embedding.main()
search.main()
load.main()
scale.main([])
hostile.main()
