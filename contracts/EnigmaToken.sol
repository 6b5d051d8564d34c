// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Enigma token (ENG)
/// @notice Fixed-supply ERC20 used for task fees and worker stake. Like Discovery's ENG it has
/// 8 decimals (1 ENG = 10^8 grains) and its whole supply is minted once, to the deployer.
contract EnigmaToken is ERC20 {
    /// @notice 150,000,000 ENG, Discovery's total supply, in grains.
    uint256 public constant TOTAL_SUPPLY = 150_000_000 * 10 ** 8;

    constructor() ERC20("Enigma", "ENG") {
        _mint(msg.sender, TOTAL_SUPPLY);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 8;
    }
}
