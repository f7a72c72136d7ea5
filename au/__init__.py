"""au: facial Action Unit detection. ``from au import Detector`` loads the predict API lazily."""


def __getattr__(name: str):
    """``au.Detector``: imported on first access, so ``import au`` stays cheap."""
    if name == "Detector":
        from au.inference.api import Detector

        return Detector
    raise AttributeError(f"module 'au' has no attribute {name!r}")
