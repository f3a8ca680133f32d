"""Exercises of chapter 09, packaging and deployment: a deploy function, a canary, a layer, ExecutedVersion.

Each check builds a function of its own in the learner's ``cloud`` (fresh names), runs the
learner's code against it with the real Lambda API, invokes it, and deletes what it made.
"""

from __future__ import annotations

import io
import json
import numbers
import zipfile
from contextlib import suppress
from typing import Any

from ..packaging import deploy as _create
from . import Exercise, error_of, unique


def _release(tag: str) -> str:
    """The app.py of one release: it answers with its tag."""
    return f"RELEASE = {tag!r}\n\ndef handler(event, context):\n    return {{'release': RELEASE}}\n"


def _call(lam, name: str, **kwargs: Any) -> tuple[str, Any]:
    """(ExecutedVersion, decoded payload) of one synchronous invocation."""
    response = lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    return response.get("ExecutedVersion", ""), json.loads(response["Payload"].read())


# -- q1: deploy = update $LATEST, publish a version, move the alias -------------------------------


def _check_deploy(cloud, deploy) -> str | None:
    if not callable(deploy):
        return "`deploy` should be a function: def deploy(name, source): ..."
    lam = cloud.client("lambda")
    name = unique("ch09-q1-shop")
    _create(lam, name, _release("r1"))
    try:
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        published = ["1"]
        for previous, tag in (("r1", "r2"), ("r2", "r3")):
            try:
                returned = deploy(name, _release(tag))
            except Exception as e:
                code, message = error_of(e)
                return f"deploy({name!r}, <release {tag}>) raised {code}: {message}"
            alias = lam.get_alias(FunctionName=name, Name="live")
            target = alias["FunctionVersion"]
            if target == "$LATEST":
                return ("after deploy, the alias live points at $LATEST: every update_function_code would then reach "
                        "callers at once, untested, and there is no version to roll back to. Point it at the version "
                        "you just published.")
            versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
            executed, body = _call(lam, f"{name}:live")
            if body.get("release") != tag:
                hint = ""
                if body.get("release") == previous:
                    hint = (f" The alias points at version {target}, a snapshot of the previous code. Publish after "
                            "update_function_code: a version is a snapshot of $LATEST as it is when you publish.")
                return (f"after deploy(name, <release {tag}>), {name}:live still answers release "
                        f"{body.get('release')!r} (ExecutedVersion {executed}).{hint}")
            if isinstance(returned, bool) or str(returned) != target:
                return (f"deploy moved live to version {target}, but returned {returned!r}. Return the Version that "
                        "publish_version answered (a string such as \"2\").")
            if target not in versions:
                return f"live points at version {target}, which list_versions_by_function does not show."
            published.append(target)
        executed, body = _call(lam, name, Qualifier=published[1])
        if body.get("release") != "r2":
            return (f"version {published[1]} should still answer release 'r2' after the next deploy, but it answered "
                    f"{body!r}. A published version never changes.")
        return None
    finally:
        with suppress(Exception):
            lam.delete_function(FunctionName=name)


q1 = Exercise(
    name="deploy with an alias",
    variables=("cloud", "deploy"),
    checker=_check_deploy,
    hint_text="Three calls, in this order: update_function_code (and wait), then publish_version, whose answer "
              "has the new \"Version\", then update_alias(FunctionName=name, Name=\"live\", FunctionVersion=...).",
    solution_code="""def deploy(name, source):
    lam.update_function_code(FunctionName=name, ZipFile=lambdalab.zip_files(source))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return version""",
    wrong_code="""def deploy(name, source):
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=lambdalab.zip_files(source))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return version""",
    praise="each deploy published a new version and moved live to it, and the older versions still run their own "
           "code. A rollback is the last line alone: update_alias back to the previous version.",
)

# -- q2: a canary that sends 25% of the alias's traffic to version 2 ------------------------------

CANARY_REQUESTS = 400


def _check_canary(cloud, start_canary) -> str | None:
    if not callable(start_canary):
        return "`start_canary` should be a function: def start_canary(name): ..."
    lam = cloud.client("lambda")
    name = unique("ch09-q2-cart")
    _create(lam, name, _release("r1"))
    try:
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        _create(lam, name, _release("r2"))
        lam.publish_version(FunctionName=name)
        try:
            start_canary(name)
        except Exception as e:
            code, message = error_of(e)
            why = ""
            if "Map value" in message:
                why = " A weight is a fraction of the traffic between 0.0 and 1.0: 25% is 0.25, not 25."
            elif "Map keys" in message:
                why = " The key is the number of a published version, as a string: \"2\"."
            return f"start_canary({name!r}) raised {code}: {message.rstrip('.')}.{why}"
        alias = lam.get_alias(FunctionName=name, Name="live")
        primary = alias["FunctionVersion"]
        weights = {k: float(v) for k, v in alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}).items()}
        if not weights:
            return (f"live has no RoutingConfig: it sends every request to version {primary}. Give it "
                    "RoutingConfig={\"AdditionalVersionWeights\": {version: weight}}.")
        if primary == "2" and weights == {"1": 0.75}:
            return ("that splits the traffic 75/25 indeed, but makes the new version 2 the alias's primary version. "
                    "In a canary the alias keeps pointing at the stable version 1, and the new version is the "
                    "additional one: rolling back is then just removing the RoutingConfig.")
        if primary != "1":
            return (f"live's FunctionVersion is {primary}; it should stay 1, the stable version that gets the other "
                    "75% of the traffic.")
        if set(weights) != {"2"}:
            return (f"live's additional version is {', '.join(weights)}; the canary is the new version 2: "
                    "AdditionalVersionWeights={\"2\": ...}.")
        if abs(weights["2"] - 0.25) > 1e-9:
            return f"version 2 gets a weight of {weights['2']}, that is {weights['2']:.0%} of the requests, not 25%."
        served = [_call(lam, f"{name}:live")[0] for _ in range(CANARY_REQUESTS)]
        share = served.count("2") / CANARY_REQUESTS
        if not 0.10 <= share <= 0.45 or set(served) - {"1", "2"}:
            return (f"the alias is configured as asked, but of {CANARY_REQUESTS} requests to live, version 2 served "
                    f"{share:.0%} (versions seen: {sorted(set(served))}); expected about 25%.")
        return None
    finally:
        with suppress(Exception):
            lam.delete_function(FunctionName=name)


q2 = Exercise(
    name="a 25% canary",
    variables=("cloud", "start_canary"),
    checker=_check_canary,
    hint_text="The alias keeps FunctionVersion=\"1\" (the stable version), and "
              "RoutingConfig={\"AdditionalVersionWeights\": {\"2\": weight}} adds the new one. A weight is a fraction "
              "between 0.0 and 1.0.",
    solution_code="""def start_canary(name):
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})""",
    wrong_code="""def start_canary(name):
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 25}})""",
    praise=f"live still points at version 1 and sends a quarter of its requests to version 2: the check sent "
           f"{CANARY_REQUESTS} requests and counted the ExecutedVersion of each. To finish the canary, point live at "
           "version 2 with an empty RoutingConfig; to abort it, keep version 1 and remove the weights.",
)

# -- q3: a layer whose module functions can import ------------------------------------------------

TEXTKIT = """
def slug(title):
    # "Hello Lambda World" -> "hello-lambda-world"
    return "-".join(title.lower().split())
"""
USES_TEXTKIT = """
import textkit

def handler(event, context):
    return {"slug": textkit.slug(event["title"])}
"""


def _check_layer(cloud, textkit_layer) -> str | None:
    if not isinstance(textkit_layer, (bytes, bytearray)):
        return ("`textkit_layer` should be the bytes of a .zip file, like lambdalab.zip_files(...) returns; it is "
                f"a {type(textkit_layer).__name__}.")
    try:
        names = zipfile.ZipFile(io.BytesIO(textkit_layer)).namelist()
    except zipfile.BadZipFile:
        return "`textkit_layer` is not a .zip file. Build it with lambdalab.zip_files({path: TEXTKIT})."
    lam = cloud.client("lambda")
    layer, name = unique("ch09-q3-textkit"), unique("ch09-q3-blog")
    version = None
    try:
        try:
            published = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": bytes(textkit_layer)},
                                                  CompatibleRuntimes=["python3.12"])
        except Exception as e:
            code, message = error_of(e)
            return f"Lambda refused the layer: {code}: {message}"
        version = published["Version"]
        _create(lam, name, USES_TEXTKIT, Layers=[published["LayerVersionArn"]])
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"title": "Hello Lambda World"}))
        body = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            where = ""
            if "textkit.py" in names:
                where = (" Your zip has textkit.py at its root, so Lambda extracts it to /opt/textkit.py, which is "
                         "not on the Python path. Python layers put modules in a python/ folder: /opt/python is.")
            elif not any(n.endswith("textkit.py") for n in names):
                where = " Your zip has no textkit.py at all."
            else:
                where = (" Lambda extracts a layer into /opt, and of /opt only python/ (and "
                         "python/lib/python3.12/site-packages/) is on the Python path.")
            return (f"a function using your layer failed to import textkit: {body.get('errorType')}: "
                    f"{body.get('errorMessage')}. The zip holds {names}.{where}")
        if body != {"slug": "hello-lambda-world"}:
            return f"the function imported textkit, but slug('Hello Lambda World') gave {body!r}. Use TEXTKIT as it is."
        return None
    finally:
        with suppress(Exception):
            lam.delete_function(FunctionName=name)
        if version is not None:
            with suppress(Exception):
                lam.delete_layer_version(LayerName=layer, VersionNumber=version)


q3 = Exercise(
    name="a layer with the right folder",
    variables=("cloud", "textkit_layer"),
    checker=_check_layer,
    hint_text="Lambda extracts a layer into /opt, and the Python runtime adds /opt/python to the import path. So "
              "the module goes in a python/ folder of the zip: lambdalab.zip_files({\"python/textkit.py\": TEXTKIT}).",
    solution_code='textkit_layer = lambdalab.zip_files({"python/textkit.py": TEXTKIT})',
    wrong_code='textkit_layer = lambdalab.zip_files({"textkit.py": TEXTKIT})',
    praise="a function that has only its own app.py imported textkit from your layer: Lambda extracted python/ to "
           "/opt/python, which the Python runtime puts on sys.path. Any number of functions can share it.",
    setup={"TEXTKIT": TEXTKIT},
)

# -- q4: predict ExecutedVersion ------------------------------------------------------------------

Q4_CALLS = {  # variable -> what is invoked, and when
    "executed_unqualified": 'lam.invoke(FunctionName="orders")',
    "executed_live": 'lam.invoke(FunctionName="orders:live")',
    "executed_qualifier": 'lam.invoke(FunctionName="orders", Qualifier="2")',
    "executed_live_after_publish": 'lam.invoke(FunctionName="orders:live"), after one more publish_version',
}
_WHY = {
    "executed_unqualified": "A name without a qualifier always means $LATEST, the unpublished copy you update; "
                            "publishing versions does not change that.",
    "executed_live": "The alias was created pointing at version 1, and nothing moved it since.",
    "executed_qualifier": "Qualifier=\"2\" names version 2 itself.",
    "executed_live_after_publish": "Publishing makes a new version but moves no alias: live still points where "
                                   "you last put it. Moving it is a separate update_alias.",
}


def q4_scenario(cloud) -> dict[str, str]:
    """Run the exercise's scenario in ``cloud`` (with a fresh function) and return each call's ExecutedVersion."""
    lam = cloud.client("lambda")
    name = unique("ch09-q4-orders")
    try:
        _create(lam, name, _release("a"))
        lam.publish_version(FunctionName=name)
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
        _create(lam, name, _release("b"))
        lam.publish_version(FunctionName=name)
        _create(lam, name, _release("c"))
        truth = {"executed_unqualified": _call(lam, name)[0],
                 "executed_live": _call(lam, f"{name}:live")[0],
                 "executed_qualifier": _call(lam, name, Qualifier="2")[0]}
        lam.publish_version(FunctionName=name)
        truth["executed_live_after_publish"] = _call(lam, f"{name}:live")[0]
        return truth
    finally:
        with suppress(Exception):
            lam.delete_function(FunctionName=name)


def _normal(answer: Any) -> str | None:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, numbers.Integral):
        return str(answer)
    return answer.strip() if isinstance(answer, str) else None


def _check_predictions(cloud, **answers) -> str | None:
    for variable in Q4_CALLS:
        if _normal(answers[variable]) is None:
            return (f"answer each call with the ExecutedVersion it returns, a string such as \"1\" or \"$LATEST\"; "
                    f"`{variable}` is {answers[variable]!r}.")
    truth = q4_scenario(cloud)
    for variable, call in Q4_CALLS.items():
        answer, expected = _normal(answers[variable]), truth[variable]
        if answer == expected:
            continue
        if answer.lower().lstrip("$") == expected.lower().lstrip("$"):
            return f"`{variable}`: almost; write it as ExecutedVersion shows it, {expected!r}."
        return f"`{variable}` ({call}): not {answer!r} but {expected!r}. {_WHY[variable]}"
    return None


q4 = Exercise(
    name="predict ExecutedVersion",
    variables=("cloud", *Q4_CALLS),
    checker=_check_predictions,
    hint_text="An unqualified name is always $LATEST. A number is that version. An alias is whatever version it was "
              "last pointed at: publishing a version never moves an alias.",
    solution_code='executed_unqualified = "$LATEST"\nexecuted_live = "1"\nexecuted_qualifier = "2"\n'
                  'executed_live_after_publish = "1"\n',
    wrong_code='executed_unqualified = "2"\nexecuted_live = "1"\nexecuted_qualifier = "2"\n'
               'executed_live_after_publish = "3"\n',
    praise="the local cloud ran the same steps and answered the same ExecutedVersions. Callers that name the alias "
           "get what you last pointed it at, whatever you publish in between.",
)

__all__ = ["TEXTKIT", "q1", "q2", "q3", "q4", "q4_scenario"]
