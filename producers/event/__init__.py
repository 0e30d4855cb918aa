"""The audit event and its encoding: the model, its enums, sealing (ids, chain) and Avro bytes.

What an integration hands the Auditor (:mod:`.model`), how the sealer numbers and
chains it (:mod:`.chain`) and writes it (:mod:`.encoder`, :mod:`.segments`,
:mod:`.avro_bytes`; the compiled twin is ``producers._sealc``, source in
``producers/csrc/``), and the repair for values no reader could read (:mod:`.repair`).
Imports nothing at package level: ``import producers.decorator`` stays light.
"""
