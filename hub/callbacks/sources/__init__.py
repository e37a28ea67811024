"""Each callback source: how its requests are verified and parsed into envelopes."""

from dataclasses import dataclass

from hub.accounts import Accounts
from hub.callbacks.sources.message_push import ChannelsIntake, MiniProgramIntake, WecomIntake
from hub.callbacks.sources.wechat_pay import PayV2Intake, PayV3Intake
from hub.vault import Vault


@dataclass(frozen=True)
class Intakes:
    """The intake of every source, built once per web process."""

    pay_v3: PayV3Intake
    pay_v2: PayV2Intake
    miniprogram: MiniProgramIntake
    channels: ChannelsIntake
    wecom: WecomIntake

    @classmethod
    def build(cls, accounts: Accounts, vault: Vault) -> "Intakes":
        return cls(
            pay_v3=PayV3Intake(accounts),
            pay_v2=PayV2Intake(accounts),
            miniprogram=MiniProgramIntake(accounts, vault),
            channels=ChannelsIntake(accounts, vault),
            wecom=WecomIntake(accounts, vault),
        )
