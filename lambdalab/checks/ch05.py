"""Chapter 05 (event sources): a notification filter, a permission for a partner's bucket, a weekend schedule.

q1 and q2 configure buckets of their own in the learner's cloud, as S3 would be configured on AWS,
and read which uploads invoked a function and which configurations S3 refused; q3 reads the moments
the learner's schedule names with the same cron arithmetic as the cloud's scheduled rules.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..sources.cron import cron_times
from . import Chapter, Exercise, error_of

SEEN = "def handler(event, context):\n    return 'seen'\n"


def _bucket(ctx, name: str, account: str | None = None) -> str:
    """Bucket ``name`` of ``account`` (the learner's by default), emptied and deleted when the check ends; its
    ARN."""
    s3 = ctx.cloud.client("s3", account=account)
    s3.create_bucket(Bucket=name)

    def remove() -> None:
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)

    ctx.defer(remove)
    return f"arn:aws:s3:::{name}"


def _allow_s3(ctx, function: str, bucket_arn: str) -> None:
    ctx.fn.lam.add_permission(FunctionName=function, StatementId="s3", Action="lambda:InvokeFunction",
                              Principal="s3.amazonaws.com", SourceArn=bucket_arn, SourceAccount=ctx.cloud.account)


def _configure(ctx, bucket: str, function: str, account: str | None = None, **rule) -> str | None:
    """Put a notification configuration invoking ``function`` on ``bucket`` (of ``account``, the learner's by
    default): None, or S3's refusal."""
    configuration = {"Id": "check", "LambdaFunctionArn": ctx.fn.arn(function), "Events": ["s3:ObjectCreated:*"],
                     **rule}
    try:
        ctx.cloud.client("s3", account=account).put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [configuration]})
    except Exception as e:  # S3's refusal: a malformed rule, or a function that does not let S3 in
        return "{}: {}".format(*error_of(e))
    return None


# -- q1: only .jpg under incoming/ ----------------------------------------------------------------
UPLOADS = {"incoming/cat.jpg": True, "incoming/2026/dog.jpg": True, "incoming/cat.png": False,
           "outgoing/cat.jpg": False, "cat.jpg": False,
           "incoming-old/cat.jpg": False,  # what a prefix without its / lets through
           "incoming/cat.notjpg": False}  # and a suffix without its .


def _only_jpegs_under_incoming(ctx, filter_rules) -> str | None:
    if not isinstance(filter_rules, list) or not all(isinstance(r, dict) for r in filter_rules):
        return '`filter_rules` should be a list of rules such as {"Name": "prefix", "Value": "..."}.'
    function = ctx.deploy("ch05-q1", SEEN, MemorySize=128)
    bucket = ctx.name("ch05-q1")
    _allow_s3(ctx, function, _bucket(ctx, bucket))
    refused = _configure(ctx, bucket, function, Filter={"Key": {"FilterRules": filter_rules}})
    if refused:
        return f"S3 refused a configuration with these rules: {refused}"
    s3 = ctx.cloud.client("s3")
    wrong = []
    for key, wanted in UPLOADS.items():
        before = len(ctx.fn.records(function))
        s3.put_object(Bucket=bucket, Key=key, Body=b"a photo")
        ctx.cloud.clock.advance(0)  # the asynchronous invocation, if any, has run
        if (len(ctx.fn.records(function)) > before) != wanted:
            wrong.append(f"{key} {'did not trigger' if wanted else 'triggered'} the function")
    if wrong:
        return "; ".join(wrong) + ". A prefix rule matches the start of the key, a suffix rule its end; both must " \
                                  "match when both are given."
    return None


q1 = Exercise(
    name="ch05.q1",
    answer="filter_rules",
    judge=_only_jpegs_under_incoming,
    hints=("Two rules: one names how the key starts, the other how it ends.",
           '[{"Name": "prefix", "Value": "incoming/"}, {"Name": "suffix", "Value": ...}]'),
    solution='filter_rules = [{"Name": "prefix", "Value": "incoming/"}, {"Name": "suffix", "Value": ".jpg"}]',
    mistake='filter_rules = [{"Name": "suffix", "Value": ".jpg"}]',
    praise="only the two .jpg uploads under incoming/ invoked the function; S3 dropped the three others before "
           "Lambda, so they cost nothing.",
)

# -- q2: S3 may invoke, for one bucket of the partner's account only ---------------------------------
AVATARS = "ch05-avatars"


def _one_partner_bucket_only(ctx, permission) -> str | None:
    if not isinstance(permission, dict):
        return "`permission` should be a dict of add_permission's keyword arguments."
    if "FunctionName" in permission:
        return "leave FunctionName out of `permission`: the check gives it to a function of its own."
    function = ctx.deploy("ch05-q2-resize", SEEN, MemorySize=128)
    try:
        ctx.fn.lam.add_permission(FunctionName=function, **permission)
    except Exception as e:  # AWS's refusal of the learner's arguments
        return "add_permission(FunctionName=..., **permission) was refused: {}: {}".format(*error_of(e))
    partner = ctx.cloud.other_account
    _bucket(ctx, AVATARS, partner)
    other = ctx.name("ch05-q2-other")
    _bucket(ctx, other, partner)
    refused = _configure(ctx, AVATARS, function, partner)
    if refused:
        return (f"the partner could not configure {AVATARS} to invoke the function ({refused}). The principal is "
                f"S3's service principal, SourceArn the bucket's ARN, arn:aws:s3:::{AVATARS}, and SourceAccount the "
                f"account that owns the bucket: the partner's ({partner}), not yours.")
    if _configure(ctx, other, function, partner) is None:
        return ("another bucket could be configured to invoke the function too: any bucket, of any account, could. "
                f"Name the bucket with SourceArn (arn:aws:s3:::{AVATARS}).")
    if permission.get("SourceAccount") != partner:
        return ("a bucket's ARN holds no account: if the partner deleted ch05-avatars, whoever created a bucket of "
                "that name could invoke your function. Add SourceAccount, the account that owns the bucket "
                "(cloud.other_account).")
    return None


q2 = Exercise(
    name="ch05.q2",
    answer="permission",
    judge=_one_partner_bucket_only,
    hints=("S3 invokes as its service principal, s3.amazonaws.com; two condition keys narrow the statement: which "
           "bucket, and which account owns it.",
           'Add "SourceArn": "arn:aws:s3:::ch05-avatars" and "SourceAccount": cloud.other_account, the bucket\'s '
           "owner."),
    solution="""permission = {
    "StatementId": "s3-avatars",
    "Action": "lambda:InvokeFunction",
    "Principal": "s3.amazonaws.com",
    "SourceArn": "arn:aws:s3:::ch05-avatars",
    "SourceAccount": cloud.other_account,
}""",
    mistake="""permission = {
    "StatementId": "s3-avatars",
    "Action": "lambda:InvokeFunction",
    "Principal": "s3.amazonaws.com",
    "SourceArn": "arn:aws:s3:::ch05-avatars",
    "SourceAccount": cloud.account,
}""",
    praise="the partner's ch05-avatars may invoke your function and its other bucket was refused; SourceAccount is "
           "the bucket's owner, so not even a bucket of the same name in a third account could.",
)

# -- q3: weekends at 18:30 UTC ----------------------------------------------------------------------
FROM = datetime(2026, 12, 6, tzinfo=timezone.utc)  # a Sunday: the next two weeks hold four weekend days


def _weekends_at_half_past_six(ctx, schedule) -> str | None:
    if not isinstance(schedule, str) or not (schedule.startswith("cron(") and schedule.endswith(")")):
        return 'a schedule expression is a string such as "cron(minutes hours day-of-month month day-of-week year)".'
    fields = schedule[5:-1].split()
    if len(fields) != 6:
        return (f"an EventBridge cron has six fields (minutes, hours, day-of-month, month, day-of-week, year); "
                f"yours has {len(fields)}.")
    if "?" not in (fields[2], fields[4]):
        return "EventBridge requires ? in the day-of-month or the day-of-week field: you cannot name both."
    try:
        moments = []
        for moment in cron_times(" ".join(fields), FROM.timestamp()):
            if moment >= FROM.timestamp() + 14 * 86400:
                break
            moments.append(datetime.fromtimestamp(moment, timezone.utc))
    except (ValueError, KeyError) as e:
        return f"this is not a valid cron expression: {e}"
    wrong = [m for m in moments if m.weekday() < 5 or (m.hour, m.minute) != (18, 30)]
    if wrong:
        numbered = " (EventBridge numbers the days from 1, Sunday, to 7, Saturday)" if any(
            char.isdigit() for char in fields[4]) else ""
        return (f"it fires at {wrong[0]:%A %H:%M} UTC too; it should fire only at 18:30, on Saturdays and "
                f"Sundays{numbered}.")
    if len(moments) != 4:
        return f"it fires {len(moments)} times in two weeks, not 4 (18:30 on each Saturday and Sunday)."
    return None


q3 = Exercise(
    name="ch05.q3",
    answer="schedule",
    judge=_weekends_at_half_past_six,
    hints=("Six fields: minutes, hours, day-of-month, month, day-of-week, year; one of the two day fields is ?. "
           "Days of the week are names (SUN, MON, ...) or numbers from 1, which is Sunday.",
           'Minute 30, hour 18, any day of the month (?), every month, two days, every year: '
           '"cron(30 18 ? * ____ *)"; a list is written with commas.'),
    solution='schedule = "cron(30 18 ? * SAT,SUN *)"',
    mistake='schedule = "cron(30 18 ? * 6,7 *)"',
    praise="four firings in two weeks, each at 18:30 UTC on a Saturday or a Sunday. Remember that UTC is not your "
           "local time: EventBridge Scheduler's schedules take a time zone.",
)

exercises = Chapter(q1, q2, q3)
