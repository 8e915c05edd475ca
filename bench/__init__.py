"""`make bench`: cost and scale of hitstream against a naive per-hit design, measured on moto.

Every number comes from the DynamoDB requests the real code actually makes, counted by botocore hooks
(bench.meter); nothing is estimated from a model of the code. `python -m bench --smoke` is a tiny run.
"""
