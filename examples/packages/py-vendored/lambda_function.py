import vendored_titlecase


def lambda_handler(event, context):
    return {"greeting": vendored_titlecase.title("hello " + event.get("name", "world"))}
