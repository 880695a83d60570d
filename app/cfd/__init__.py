"""The CFD desk in one package: pure rules, inputs, engine, trigger index, position store and codec;
the durable journal; the desk an Executor shard drives; its renderers and read queries."""
