"""MemberData over GenAsync (async MDA, wire-formats 2.2): a list of queries in, answers later.

A post to `/mycarenet/bed/GenAsync/memberData` carries an `ext:AttributeQueryList` (MessageName
MDA, text/xml, no encoding, optionally sealed for MyCareNet). Each query gets the same answer
the synchronous service gives; the `ext:ResponseList` waits in the sender's mailbox for `get`,
sealed for the requester when the post was sealed (FHC/IFHC `MemberDataServiceImpl.kt
sendMemberDataRequest` / `getMemberDataMessages`).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.codecs import genasync as ga_codec
from simulator.codecs import memberdata as codec
from simulator.codecs.mycarenet_commons import Blob, CommonInput, PayloadError
from simulator.domain.memberdata import consult_member_data
from simulator.runtime import Simulator
from simulator.server.exchange import Exchange
from simulator.services import mailbox as boxes
from simulator.services.sealed_content import close_detail, open_detail
from simulator.soap import faults

MAILBOX = "memberData"
MESSAGE_NAME = "MDA"  # the answer keeps the post's name: FHC asks for what it posted
DETAIL = "/post/Detail"


def answers(mailbox: str) -> bool:
    return mailbox == MAILBOX


@dataclass(frozen=True)
class Answer:
    """The ResponseList of one post, ready to deliver."""

    content: bytes  # the ResponseList, or its seal for the requester
    content_encryption: str | None
    input_reference: str | None
    query_ids: tuple[str, ...]


def answer(sim: Simulator, exchange: Exchange, request: ga_codec.PostRequest) -> Answer:
    """Answer every query of the post, storing nothing yet.

    Raises a SoapFault (rendered as ga:fault by GenAsync) when the Detail is no query list:
    MyCareNet refuses such a post before anything is kept.
    """
    detail = request.detail
    opened = open_detail(
        sim,
        Blob(
            content=detail.content,
            content_type=detail.content_type,
            content_encoding=detail.content_encoding,
            content_encryption=detail.content_encryption,
            id=detail.id,
        ),
        DETAIL,
        exchange.caller.certificate,
    )
    origin = request.common.origin
    common = CommonInput(
        is_test=request.common.is_test,
        input_reference=request.common.input_reference,
        package_name=origin.package_name,
        provider_quality=origin.provider_quality,
        provider_nihii=origin.provider_nihii,
        provider_ssin=origin.person_ssin,
    )
    try:
        queries = codec.read_attribute_query_list(opened.business_content, common)
    except PayloadError as error:
        raise faults.SoapFault("SOA-03007", f"{DETAIL}: {error}") from None
    today, now = sim.clock.today(), sim.clock.now()
    responses = [
        codec.saml_response_element(
            consult_member_data(query, sim.population, today), query, now=now
        )
        for query in queries
    ]
    content, encryption = close_detail(sim, codec.build_response_list(responses), opened)
    return Answer(
        content=content,
        content_encryption=encryption,
        input_reference=request.common.input_reference,
        query_ids=tuple(query.query_id or "" for query in queries),
    )


def deliver(sim: Simulator, answer: Answer, sender: str) -> str:
    """Put the ResponseList in `sender`'s mailbox (inside the post's deferred batch)."""
    return boxes.deliver(
        sim,
        MAILBOX,
        sender,
        MESSAGE_NAME,
        answer.content,
        input_reference=answer.input_reference,
        content_type="text/xml",
        content_encoding="none",
        content_encryption=answer.content_encryption,
    )
