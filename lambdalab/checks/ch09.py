"""Chapter 09 (packaging and deployment): a deploy function, a canary, a layer, ExecutedVersion.

Each check builds a function of its own in the learner's cloud (fresh names), runs the learner's
code against it with the real Lambda API, invokes it, and deletes what it made.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from . import Chapter, Context, Exercise, error_of
from .judges import Case, Deploys, Expect


def _release(tag: str) -> str:
    """The app.py of one release: it answers with its tag."""
    return f"RELEASE = {tag!r}\n\ndef handler(event, context):\n    return {{'release': RELEASE}}\n"


def _with_versions(ctx: Context, prefix: str, *tags: str) -> str:
    """A new function with one published version per release tag, and an alias live -> 1."""
    name = ctx.deploy(prefix, _release(tags[0]))
    lam = ctx.fn.lam
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    for tag in tags[1:]:
        ctx.fn.update_code(name, _release(tag))
        lam.publish_version(FunctionName=name)
    return name


def _raised(call: str, e: Exception) -> str:
    return "{} raised {}: {}".format(call, *error_of(e))


# -- q1: deploy = update $LATEST, publish a version, move the alias -------------------------------


def _deploys_and_moves_live(ctx: Context, deploy) -> str | None:
    if not callable(deploy):
        return "`deploy` should be a function: def deploy(name, source): ..."
    name, lam = _with_versions(ctx, "ch09-q1-shop", "r1"), ctx.fn.lam
    for previous, tag in (("r1", "r2"), ("r2", "r3")):
        try:
            returned = deploy(name, _release(tag))
        except Exception as e:
            return _raised(f"deploy({name!r}, <release {tag}>)", e)
        target = lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"]
        if target == "$LATEST":
            return ("after deploy, the alias live points at $LATEST: every update_function_code would then reach "
                    "callers at once, untested, and there is no version to roll back to. Point it at the version you "
                    "just published.")
        served = ctx.fn.call(f"{name}:live", tail=False)
        if served.payload.get("release") != tag:
            hint = ""
            if served.payload.get("release") == previous:
                hint = (f" The alias points at version {target}, a snapshot of the previous code. Publish after "
                        "update_function_code: a version is a snapshot of $LATEST as it is when you publish.")
            return (f"after deploy(name, <release {tag}>), live still answers release "
                    f"{served.payload.get('release')!r} (ExecutedVersion {served.version}).{hint}")
        if isinstance(returned, bool) or str(returned) != target:
            if isinstance(returned, dict) and "Version" in returned:  # an API answer: its Version is the point
                return (f"deploy moved live to version {target}, but returned the whole answer of an API call "
                        f'(with "Version": {returned["Version"]!r}). Return only the Version that publish_version '
                        'answered (a string such as "2").')
            return (f"deploy moved live to version {target}, but returned {returned!r}. Return the Version that "
                    'publish_version answered (a string such as "2").')
    if (release := ctx.fn.invoke(name, Qualifier="2").get("release")) != "r2":
        return f"version 2 should still answer release 'r2' after the next deploy, but it answered {release!r}."
    return None


q1 = Exercise(
    name="ch09.q1",
    answer="deploy",
    judge=_deploys_and_moves_live,
    hints=("Three calls, in this order: update_function_code (and wait), publish_version, update_alias.",
           'publish_version\'s answer has the new "Version"; then update_alias(FunctionName=name, Name="live", '
           "FunctionVersion=version)."),
    solution="""def deploy(name, source):
    lam.update_function_code(FunctionName=name, ZipFile=lambdalab.zip_files(source))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    return version""",
    mistake="""def deploy(name, source):
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


def _starts_a_canary(ctx: Context, start_canary) -> str | None:
    if not callable(start_canary):
        return "`start_canary` should be a function: def start_canary(name): ..."
    name, lam = _with_versions(ctx, "ch09-q2-cart", "r1", "r2"), ctx.fn.lam
    try:
        start_canary(name)
    except Exception as e:
        message = error_of(e)[1]
        why = ""
        if "Map value" in message:
            why = " A weight is a fraction of the traffic between 0.0 and 1.0: 25% is 0.25, not 25."
        elif "Map keys" in message:
            why = ' The key is the number of a published version, as a string: "2".'
        return _raised(f"start_canary({name!r})", e).rstrip(".") + "." + why
    alias = lam.get_alias(FunctionName=name, Name="live")
    primary = alias["FunctionVersion"]
    weights = {k: float(v) for k, v in alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}).items()}
    if not weights:
        return (f"live has no RoutingConfig: it sends every request to version {primary}. Give it "
                'RoutingConfig={"AdditionalVersionWeights": {version: weight}}.')
    if primary == "2" and weights == {"1": 0.75}:
        return ("that splits the traffic 75/25 indeed, but makes the new version 2 the alias's primary version. In a "
                "canary the alias keeps pointing at the stable version 1, and the new version is the additional one: "
                "rolling back is then just removing the RoutingConfig.")
    if primary != "1":
        return f"live's FunctionVersion is {primary}; it should stay 1, the stable version that gets the other 75%."
    if set(weights) != {"2"}:
        return (f"live's additional version is {', '.join(weights)}; the canary is the new version 2: "
                'AdditionalVersionWeights={"2": ...}.')
    if abs(weights["2"] - 0.25) > 1e-9:
        return f"version 2 gets a weight of {weights['2']}, that is {weights['2']:.0%} of the requests, not 25%."
    served = [ctx.fn.call(f"{name}:live", tail=False).version for _ in range(CANARY_REQUESTS)]
    share = served.count("2") / CANARY_REQUESTS
    if not 0.10 <= share <= 0.45 or set(served) - {"1", "2"}:
        return (f"the alias is configured as asked, but of {CANARY_REQUESTS} requests to live, version 2 served "
                f"{share:.0%} (versions seen: {sorted(set(served))}); expected about 25%.")
    return None


q2 = Exercise(
    name="ch09.q2",
    answer="start_canary",
    judge=_starts_a_canary,
    hints=('The alias keeps FunctionVersion="1" (the stable version), and RoutingConfig adds the new one.',
           'RoutingConfig={"AdditionalVersionWeights": {"2": weight}}, where a weight is a fraction between 0.0 and '
           "1.0."),
    solution="""def start_canary(name):
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})""",
    mistake="""def start_canary(name):
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


def _is_zip(ctx: Context, archive: Any) -> str | None:
    if not isinstance(archive, (bytes, bytearray)):
        return (f"`{ctx.answer}` should be the bytes of a .zip file, like lambdalab.zip_files(...) returns; it is a "
                f"{type(archive).__name__}.")
    try:
        names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    except zipfile.BadZipFile:
        return f"`{ctx.answer}` is not a .zip file. Build it with lambdalab.zip_files({{path: TEXTKIT}})."
    if "python/textkit.py" not in names:
        return (f"your zip holds {names}. Lambda extracts a layer into /opt, and of /opt only python/ (and "
                "python/lib/python3.12/site-packages/) is on Python's import path.")
    return None


def _layer_of(ctx: Context, archive: bytes) -> dict:
    """The answer published as a new layer (deleted after the check): a function's Layers parameter."""
    lam, layer = ctx.fn.lam, ctx.name("ch09-q3-textkit")
    published = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": bytes(archive)},
                                          CompatibleRuntimes=["python3.12"])
    ctx.defer(lambda: lam.delete_layer_version(LayerName=layer, VersionNumber=published["Version"]))
    return {"Layers": [published["LayerVersionArn"]]}


q3 = Exercise(
    name="ch09.q3",
    answer="textkit_layer",
    judge=(_is_zip, Deploys(source=USES_TEXTKIT, config=_layer_of, prefix="ch09-q3-blog", cases=(
        Case({"title": "Hello Lambda World"}, expect={"slug": "hello-lambda-world"}, on_error={
            "Runtime.ImportModuleError": "Python layers put modules in a python/ folder: Lambda extracts it to "
                                         "/opt/python, which is on the import path."}),))),
    hints=("Lambda extracts a layer into /opt, and the Python runtime adds /opt/python to the import path.",
           'So the module goes in a python/ folder of the zip: lambdalab.zip_files({"python/textkit.py": TEXTKIT}).'),
    solution='textkit_layer = lambdalab.zip_files({"python/textkit.py": TEXTKIT})',
    mistake='textkit_layer = lambdalab.zip_files({"textkit.py": TEXTKIT})',
    praise="a function that has only its own app.py imported textkit from your layer: Lambda extracted python/ to "
           "/opt/python, which the Python runtime puts on sys.path. Any number of functions can share it.",
    given={"TEXTKIT": TEXTKIT},
)

# -- q4: predict ExecutedVersion ------------------------------------------------------------------
_WHY = {
    "unqualified": "A name without a qualifier always means $LATEST, the unpublished copy you update; publishing "
                   "versions does not change that.",
    "live": "The alias was created pointing at version 1, and nothing moved it since.",
    "qualifier": 'Qualifier="2" names version 2 itself.',
    "live_after_publish": "Publishing makes a new version but moves no alias: live still points where you last put it. "
                          "Moving it is a separate update_alias.",
}


def q4_scenario(ctx: Context) -> dict[str, str]:
    """Run the exercise's calls in the learner's cloud (a fresh function) and return each ExecutedVersion."""
    name = _with_versions(ctx, "ch09-q4-orders", "a", "b")
    ctx.fn.update_code(name, _release("c"))
    executed = {"unqualified": ctx.fn.call(name, tail=False).version,
                "live": ctx.fn.call(f"{name}:live", tail=False).version,
                "qualifier": ctx.fn.call(name, tail=False, Qualifier="2").version}
    ctx.fn.lam.publish_version(FunctionName=name)
    executed["live_after_publish"] = ctx.fn.call(f"{name}:live", tail=False).version
    return executed


def _versions_as_text(executed: Any) -> Any:
    if not isinstance(executed, dict):
        return executed
    return {k: str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) else v
            for k, v in executed.items()}


q4 = Exercise(
    name="ch09.q4",
    answer="executed",
    judge=Expect(q4_scenario, kind=dict, normalize=_versions_as_text, explain=_WHY),
    hints=("An unqualified name is always $LATEST. A number is that version.",
           "An alias is whatever version it was last pointed at: publishing a version never moves an alias."),
    solution="""executed = {
    "unqualified": "$LATEST",
    "live": "1",
    "qualifier": "2",
    "live_after_publish": "1",
}""",
    mistake="""executed = {
    "unqualified": "2",
    "live": "1",
    "qualifier": "2",
    "live_after_publish": "3",
}""",
    praise="the local cloud ran the same calls and answered the same ExecutedVersions. Callers that name the alias get "
           "what you last pointed it at, whatever you publish in between.",
)

exercises = Chapter(q1, q2, q3, q4)

__all__ = ["TEXTKIT", "exercises", "q1", "q2", "q3", "q4", "q4_scenario"]
