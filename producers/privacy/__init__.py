"""What a call's data becomes before it leaves the process: policy, redaction, pseudonyms, digests.

The minimisation policy (:mod:`.policy`) says what a tool's class keeps;
:mod:`.payload` applies it, with :mod:`.redact` (its secret and personal-data
finders :mod:`.scanners`, :mod:`.keynames`, :mod:`.secret_formats`) and the keyed
pseudonyms and digests of :mod:`.pseudonym`.
"""
