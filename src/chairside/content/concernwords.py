"""The words that show a post is about a patient concern, and the uses that do not count.

Chairside knows these for the two concerns of the default `audiences/segments.toml`
(`tmj`, `neck_shoulder`); a practice adds its own with `keywords` and removes a use with
`ignore`. Three kinds of entry:

- a **term** names the concern by itself ("TMJ", "bruxism", "whiplash"); its weight says how
  sure it is (clenching and grinding are often a cause mentioned in passing, so they weigh
  less than "temporomandibular");
- a **place** (jaw, neck, shoulders, temples …) counts only beside a **complaint** (pain,
  clicking, stiffness, headache …) in the same sentence: "bone in the upper jaw" says nothing
  about jaw pain, "my jaw clicks" does;
- an **ignored** phrase (jawbone, neck size, "head and neck cancer", neck of a tooth) never
  counts, even beside a complaint.

Words are matched whole, in any case, with their usual endings (click, clicks, clicking).
"""

from __future__ import annotations

from dataclasses import dataclass

TMJ = "tmj"
NECK = "neck_shoulder"


@dataclass(frozen=True)
class Term:
    phrase: str
    weight: float
    floating: bool = False
    """Goes to the concern whose places stand in the same sentence ("trigger points in the
    jaw muscles" is jaw pain), else to its own concern."""
    habit: bool = False
    """A habit behind the concern (grinding, posture): in a title it names what the post is
    about ("Do You Grind Your Teeth?"); in the body it may be a cause in passing."""


# What a patient feels. A place counts only when one of these stands near it.
COMPLAINTS = (
    "pain", "painful", "ache", "achy", "aching", "sore", "soreness", "hurt", "tender",
    "tenderness", "tension", "tense", "tight", "tightness", "stiff", "stiffness", "click",
    "pop", "crack", "lock", "catch", "stuck", "grate", "crepitus", "knot", "kink", "spasm",
    "strain", "cramp", "headache", "discomfort", "tired", "fatigue", "pinch", "throb", "burn",
    "dysfunction", "disorder", "problem", "flare", "flare-up", "guarding", "clenched",
)  # fmt: skip

# A sentence with one of these is about a procedure's aftermath ("some jaw soreness after
# surgery is normal"): a complaint in it weighs half.
AFTERCARE = frozenset(
    {"surgery", "surgical", "extraction", "extractions", "procedure", "procedures", "stitches"}
    | {"anaesthetic", "anesthetic", "anaesthesia", "anesthesia", "sutures", "socket", "sockets"}
    | {"temporary", "temporarily", "implant", "implants", "extracted", "post-op", "postoperative"}
)

PLACES: dict[str, dict[str, float]] = {
    TMJ: {
        "jaw": 1.0, "jaw joint": 1.0, "jaw muscle": 1.0, "chewing muscle": 1.0,
        "masseter": 1.0, "temporalis": 1.0, "temple": 0.8, "face": 0.5, "facial": 0.5,
        "cheek": 0.4, "in front of the ear": 0.8, "joint in front of each ear": 0.8,
    },
    NECK: {
        "neck": 1.0, "shoulder": 1.0, "upper back": 0.9,
        "shoulder blade": 0.9, "trapezius": 1.0, "traps": 1.0, "upper trap": 1.0,
        "base of the skull": 0.8, "base of your skull": 0.8, "suboccipital": 1.0,
        "levator scapulae": 1.0, "rhomboid": 0.8, "thoracic spine": 0.6, "scalene": 0.8,
        "scapula": 0.8,
    },
}  # fmt: skip

TERMS: dict[str, tuple[Term, ...]] = {
    TMJ: (
        Term("tmj", 1.5), Term("tmd", 1.5), Term("tmjd", 1.5), Term("temporomandibular", 1.5),
        Term("bruxism", 1.2), Term("lockjaw", 1.2), Term("orofacial pain", 1.0),
        Term("jaw clicking", 1.0), Term("jaw popping", 1.0),
        Term("clench", 0.5, habit=True), Term("clencher", 0.5, habit=True),
        Term("grind", 0.5, habit=True), Term("grinder", 0.5, habit=True),
        Term("grinding", 0.5, habit=True),
        Term("night guard", 0.4), Term("nightguard", 0.4), Term("occlusal splint", 0.8),
        Term("stabilisation splint", 0.8), Term("stabilization splint", 0.8),
        Term("splint", 0.4), Term("occlusal appliance", 0.6), Term("bite guard", 0.3),
        Term("bite splint", 0.4),
        Term("morning headache", 0.3),
    ),
    NECK: (
        Term("tech neck", 1.5), Term("text neck", 1.5), Term("whiplash", 1.2),
        Term("myofascial", 1.0, floating=True), Term("trigger point", 0.8, floating=True),
        Term("muscle knot", 0.6, floating=True), Term("frozen shoulder", 1.5),
        Term("rotator cuff", 1.0), Term("adhesive capsulitis", 1.5),
        Term("cervicogenic", 1.2), Term("cervical spine", 1.0), Term("cervical radiculopathy", 1.2),
        Term("forward head posture", 1.2), Term("forward head", 0.8),
        Term("poor posture", 0.5, habit=True), Term("posture", 0.3, habit=True),
        Term("rounded shoulders", 0.8), Term("stiff neck", 1.0),
        Term("crick in the neck", 1.0), Term("impingement", 0.6),
        Term("torticollis", 1.2), Term("wry neck", 1.2), Term("cervicalgia", 1.2),
        Term("upper crossed syndrome", 1.2), Term("thoracic outlet", 0.8),
        Term("fibromyalgia", 1.0),
        # a dentist's tension headaches come from the jaw, a chiropractor's from the neck
        Term("tension headache", 0.6, floating=True),
        Term("tension type headache", 0.6, floating=True),
    ),
}  # fmt: skip

IGNORED = (
    # the jaw as anatomy: implants, orthodontics, sports injuries, growth
    "jawbone", "jaw bone", "bone of the jaw", "upper jaw", "lower jaw", "upper back jaw",
    "lower back jaw", "jaw fracture", "fractured jaw", "broken jaw", "jawline", "jaw line",
    "jaw growth", "jaw size", "jaw surgery", "jaw-dropping", "jaw dropping", "jaws of life",
    "narrow jaw", "small jaw", "set back lower jaw",
    # back teeth are not the upper back
    "upper back tooth", "upper back teeth", "lower back tooth", "lower back teeth",
    "upper back molar", "lower back molar",
    # neck in other senses: sleep apnea risk, cancer screening, the neck of a tooth
    "neck size", "neck circumference", "large neck", "thick neck", "neck measurement",
    "collar size", "head and neck cancer", "head and neck cancers", "head and neck exam",
    "head and neck screening", "head and neck oncology", "neck of the tooth",
    "neck of a tooth", "neck of your tooth", "neck of the teeth", "tooth neck",
    "bottleneck", "turtleneck", "v neck", "crew neck", "neck and neck", "neck pillow",
    "cervical cancer", "cervical lesion", "cervical caries", "cervical abrasion",
    "cold shoulder", "shoulder season", "shoulder to shoulder", "shoulder length",
    "hard shoulder", "shin splint", "tight budget", "tight fitting",
)  # fmt: skip
