"""Build the producer's compiled seal-and-encode (optional: without a C compiler and
OpenSSL's headers the install goes on and the producer runs it in Python)."""

from pathlib import Path

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "producers._sealc",
            sources=["producers/csrc/sealc.c"],
            depends=[str(p) for p in Path("producers/csrc").glob("*.h")],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
