"""Build the producer's compiled seal-and-encode (optional: without a C compiler and
OpenSSL's headers the install goes on and the producer runs it in Python)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "producers._sealc",
            sources=["producers/_sealc.c"],
            libraries=["crypto"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
