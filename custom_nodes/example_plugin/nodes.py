"""The example plugin's node: repeats a string, to show the classic node convention."""


class ExampleRepeatText:
    """Join `count` copies of `text` with `separator`."""

    CATEGORY = "examples"
    DESCRIPTION = "Repeats a piece of text."
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("text",)
    FUNCTION = "repeat"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "text": ("STRING", {"default": "hello", "multiline": False}),
                "count": ("INT", {"default": 2, "min": 1, "max": 64}),
            },
            "optional": {"separator": ("STRING", {"default": " "})},
        }

    def repeat(self, text: str, count: int, separator: str = " ") -> tuple[str]:
        return (separator.join([text] * count),)
