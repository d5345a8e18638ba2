"""Issue 15 on a real Synapse: a Norwegian network's rooms are named in Norwegian, a coordinator
who chose no language reads the network's, and a member who asks for Dutch gets Dutch."""
from __future__ import annotations

from storage import networks
from tests.integration.test_membership import NET, PLAIN


async def test_a_norwegian_network_speaks_norwegian_and_a_member_may_choose_dutch(make_bot, make_member):
    carol = await make_member()
    bot = await make_bot(start=False, networks=[{**NET, "language": "nb", "coordinators": [carol.user_id]}],
                         matrix=PLAIN)
    await bot.start()
    async with bot.kring.db.transaction() as session:
        rooms = await networks.rooms(session, "north")
    gw = bot.kring.gateway
    assert (await gw.get_state(rooms["announcements"], "m.room.name"))["name"] == "North Network · Kunngjøringer"
    assert (await gw.get_state(rooms["control"], "m.room.topic"))["topic"].startswith("Bare for koordinatorene i North")

    dm = await carol.dm(bot.user_id, encrypted=False)
    await carol.send(dm, "!hjelp")
    listing = await carol.message(bot.user_id, "Dette kan du gjøre her", dm)
    assert "!nytt arrangement" in listing.content["body"] and "!meld-på" in listing.content["body"]
    await carol.send(dm, "!lang nl")
    await carol.message(bot.user_id, "Vanaf nu spreek ik Nederlands met u.", dm)
    await carol.send(dm, "!help register")
    detail = await carol.message(bot.user_id, "Meld u aan voor een bijeenkomst", dm)
    assert detail.content["body"].startswith("!aanmelden")
