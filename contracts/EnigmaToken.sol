// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title Enigma token (ENG)
/// @notice Fixed-supply ERC20 used for task fees and worker stake. Like Discovery's ENG it has
/// 8 decimals (1 ENG = 10^8 grains) and its whole supply is minted once, to the deployer.
/// @dev ERC-2612 `permit` (EIP-712 domain: name "Enigma", version "1") is an addition to
/// Discovery's ENG: a client grants the fee allowance with a signature inside its task record's
/// transaction (`Enigma.createTaskRecordWithPermit`), so that a task is one transaction without
/// a standing approval. Discovery's functions and events are unchanged.
contract EnigmaToken is ERC20, ERC20Permit {
    /// @notice 150,000,000 ENG, Discovery's total supply, in grains.
    uint256 public constant TOTAL_SUPPLY = 150_000_000 * 10 ** 8;

    constructor() ERC20("Enigma", "ENG") ERC20Permit("Enigma") {
        _mint(msg.sender, TOTAL_SUPPLY);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 8;
    }
}
