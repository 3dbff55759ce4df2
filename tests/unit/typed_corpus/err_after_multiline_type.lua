-- error: 12: <name> expected near '='
type Handler = (
    msg: Message,
    n: number?
) -> (boolean, string?)

type Big = {
    a: {[string]: Array<Map<string, number>>},
    b: "x" | "y",
}

local = 5
