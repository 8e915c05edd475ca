"""Alarms a site owner needs: counts lagging (iterator age), functions failing, records given up (DLQ)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from stacks import constants as c
from stacks.pipeline import Pipeline


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, pipeline: Pipeline, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", enforce_ssl=True)
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))
        five_minutes = Duration.minutes(5)
        self.alarms = [
            cw.Alarm(
                self,
                "IteratorAge",
                alarm_description="Counts lag the stream by more than 5 minutes",
                metric=pipeline.aggregate.metric("IteratorAge", statistic="Maximum", period=five_minutes),
                threshold=c.ITERATOR_AGE_ALARM_MS,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
            cw.Alarm(
                self,
                "DlqDepth",
                alarm_description="Stream records were given up and sent to the DLQ: run `make recompute`",
                metric=pipeline.dlq.metric_approximate_number_of_messages_visible(period=five_minutes),
                threshold=c.DLQ_DEPTH_ALARM,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for name, fn in (("Ingest", pipeline.ingest), ("Aggregate", pipeline.aggregate), ("Query", pipeline.query)):
            self.alarms.append(
                cw.Alarm(
                    self,
                    f"{name}Errors",
                    alarm_description=f"The {name.lower()} function failed",
                    metric=fn.metric_errors(period=five_minutes, statistic="Sum"),
                    threshold=c.ERRORS_ALARM_COUNT,
                    evaluation_periods=1,
                    comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                )
            )
        for alarm in self.alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
