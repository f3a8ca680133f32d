"""Event sources that fire by themselves: AWS services that invoke a function when something happens
to one of their resources (S3 for a bucket's notification configuration, ...).

Each calls Lambda in-process as its service principal, through the Lambda API's own ``call``: the
function's resource-based policy decides, with the resource as ``aws:SourceArn`` and its owner as
``aws:SourceAccount``, exactly as it decides for a learner's call, and push sources invoke
asynchronously, so the async queue's retries, destinations and dead-letter queues apply to them.
"""
