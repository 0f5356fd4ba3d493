"""``python -m bench``: every benchmark, tables printed and written to docs/benchmarks.md."""

from bench import build, embedding, hostile, load, ray_build, scale, search

embedding.main()
search.main()
load.main()
scale.main([])
build.main([])
hostile.main()
ray_build.main([])
