"""Alarms that see what users see, kept few: each costs $0.10 per metric per month (README "Alarms").

Lambda's Errors metric counts only unhandled errors, so it is not enough: a route that answers 500 shows in the
API's (or the Function URL's) 5xx count, and a batch the aggregator retries or a record it gives up shows in its
own EMF metrics (hitstream.stream: BatchRetries, PoisonRecords).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from stacks import constants as c
from stacks.api import Api
from stacks.pipeline import Pipeline

NAMESPACE = "Hitstream"  # POWERTOOLS_METRICS_NAMESPACE; Powertools adds the dimension service=<service>


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: Pipeline,
        api: Api,
        freshness_s: int,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))
        period = c.ALARM_PERIOD

        def total(metrics: dict[str, cw.IMetric], label: str) -> cw.IMetric:
            if len(metrics) == 1:
                return next(iter(metrics.values()))
            expression = " + ".join(f"FILL({name}, 0)" for name in metrics)
            return cw.MathExpression(expression=expression, using_metrics=metrics, label=label, period=period)

        server_errors: dict[str, cw.IMetric] = {"api": api.http_api.metric_server_error(period=period, statistic="Sum")}
        if api.ingest_url is not None:
            server_errors["url"] = pipeline.ingest.metric("Url5xxCount", period=period, statistic="Sum")
        emf = {"service": c.SERVICE}
        self.alarms = [
            self._alarm(
                "Api5xx",
                "Users got 5xx answers: read the query/ingest logs for 'unhandled error' (README Alarms)",
                total(server_errors, "5xx answers"),
                c.API_5XX_ALARM,
            ),
            self._alarm(
                "FunctionErrors",
                "A function crashed or timed out (unhandled): read its log group (README Alarms)",
                total(
                    {
                        "ingest": pipeline.ingest.metric_errors(period=period, statistic="Sum"),
                        "query": pipeline.query.metric_errors(period=period, statistic="Sum"),
                        "aggregate": pipeline.aggregate.metric_errors(period=period, statistic="Sum"),
                    },
                    "function errors",
                ),
                c.FAILURES_ALARM,
            ),
            self._alarm(
                "AggregateFailures",
                "The aggregator retried batches or skipped poison records: counts lag or miss (README Alarms)",
                total(
                    {
                        key: cw.Metric(
                            namespace=NAMESPACE, metric_name=name, dimensions_map=emf, period=period, statistic="Sum"
                        )
                        for key, name in (("retries", "BatchRetries"), ("poison", "PoisonRecords"))
                    },
                    "retried batches + poison records",
                ),
                c.FAILURES_ALARM,
            ),
            self._alarm(
                "IteratorAge",
                f"Counts lag the stream by more than the {freshness_s} s freshness bound (README Alarms)",
                pipeline.aggregate.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1)),
                (freshness_s + c.ITERATOR_AGE_SLACK_S) * 1000,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=5,
                datapoints_to_alarm=3,
            ),
            self._alarm(
                "DlqDepth",
                "Stream records were given up and sent to the DLQ: run `make recompute` (README Alarms)",
                pipeline.dlq.metric_approximate_number_of_messages_visible(period=period),
                c.DLQ_DEPTH_ALARM,
            ),
        ]
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))

    def _alarm(
        self,
        name: str,
        description: str,
        metric: cw.IMetric,
        threshold: float,
        *,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
    ) -> cw.Alarm:
        return cw.Alarm(
            self,
            name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=comparison,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
