NAME, TITLE = "api", "api"

def run(ctx, res):
    ctx.sbxd.need("apply")
