# A pure-Python library shipped inside the package, as `pip install -t .` would.
def title(s):
    return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))
